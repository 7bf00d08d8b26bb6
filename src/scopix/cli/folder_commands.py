"""The ``scopix folders`` commands: ``list``, ``create``, ``show``, ``rename``, ``move``,
``delete`` and ``move-files``.

Like the other client commands, each parses its options, then hands ``run_client`` a
coroutine that talks to the server and prints; ``--json`` puts JSON on stdout and nothing
else there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from scopix.cli import render
from scopix.cli.common import ApiKeyOption, BaseUrlOption, JsonOption, run_client, stdout
from scopix.types.folders import tree_order

if TYPE_CHECKING:
    from scopix.client import Scopix
    from scopix.types.folders import Folder

FolderArgument = Annotated[str, typer.Argument(help="the folder's id")]
TopOption = Annotated[bool, typer.Option("--top", help="to the top level instead")]


def list_folders(
    project: Annotated[
        str | None, typer.Option("--project", help="only the folders of this project")
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the folders as a tree, each with the files and subfolders it holds directly."""
    run_client(api_key, base_url, lambda client: _list(client, project, as_json))


def create(
    name: Annotated[str, typer.Argument(help="the new folder's name")],
    parent: Annotated[
        str | None, typer.Option("--parent", help="the folder to create it in (default: top)")
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project", help="the project of a top-level folder (a subfolder has its parent's)"
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a folder, at the top level or in another folder.

    Exits 1 when a sibling has the name (in any letter case) or the parent is unknown.
    """
    run_client(api_key, base_url, lambda client: _create(client, name, parent, project, as_json))


def show(
    folder_id: FolderArgument,
    limit: Annotated[int, typer.Option(min=1, max=100, help="files per page")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="files to skip")] = 0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one folder: its path, its subfolders and a page of the files directly in it."""
    run_client(api_key, base_url, lambda client: _show(client, folder_id, limit, offset, as_json))


def rename(
    folder_id: FolderArgument,
    name: Annotated[str, typer.Argument(help="the new name")],
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rename a folder.

    Exits 1 when a sibling has the name (in any letter case).
    """
    run_client(api_key, base_url, lambda client: _rename(client, folder_id, name, as_json))


def move(
    folder_id: FolderArgument,
    parent: Annotated[
        str | None, typer.Option("--parent", help="the folder to move it into")
    ] = None,
    top: TopOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a folder, with everything in it, into another folder or to the top level.

    --parent ID moves it into that folder, --top to the top level of its project.

    Exits 1 for a move into itself or one of its subfolders, or into another project.
    """
    target = _one_target(parent, top, "--parent")
    run_client(api_key, base_url, lambda client: _move(client, folder_id, target, as_json))


def delete(
    folder_id: FolderArgument,
    recursive: Annotated[
        bool,
        typer.Option(
            "--recursive",
            help="delete the folders below too; their files move up to the folder's parent",
        ),
    ] = False,
    delete_files: Annotated[
        bool,
        typer.Option(
            "--delete-files", help="with --recursive: delete the files instead of moving them"
        ),
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a folder.

    Exits 1 when it holds files or subfolders and --recursive was not given.
    """
    if delete_files and not recursive:
        raise typer.BadParameter("deleting files takes --recursive", param_hint="--delete-files")
    run_client(
        api_key,
        base_url,
        lambda client: _delete(client, folder_id, recursive, delete_files, as_json),
    )


def move_files(
    file_ids: Annotated[list[str], typer.Argument(help="the files' ids")],
    folder: Annotated[
        str | None, typer.Option("--folder", help="the folder to move them into")
    ] = None,
    top: TopOption = False,
    project: Annotated[
        str | None,
        typer.Option("--project", help="with --top: the project to move them to (default: none)"),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move files into a folder, or out of folders to the top level of a project or of none.

    --folder ID puts them in that folder (and its project); --top takes them out of any
    folder, to the top level of --project ID or outside any project.

    Exits 1 when a file was skipped (unknown or deleted).
    """
    target = _one_target(folder, top, "--folder")
    run_client(
        api_key,
        base_url,
        lambda client: _move_files(client, file_ids, target, project, as_json),
    )


def _one_target(folder: str | None, top: bool, option: str) -> str | None:
    """The folder chosen, or None for the top level; exactly one of them must be asked for."""
    if (folder is None) == (not top):
        raise typer.BadParameter(f"give either {option} ID or --top", param_hint=option)
    return folder


async def _list(client: Scopix, project: str | None, as_json: bool) -> int:
    folders = await client.folders.list(project_id=project)
    if as_json:
        typer.echo(render.dumps(tree_order(folders)))
        return 0
    console = stdout()
    if folders:
        console.print(render.folder_tree(folders))
    plural = "" if len(folders) == 1 else "s"
    console.print(f"{len(folders)} folder{plural}", highlight=False)
    return 0


async def _create(
    client: Scopix, name: str, parent: str | None, project: str | None, as_json: bool
) -> int:
    made = await client.folders.create(name, parent_id=parent, project_id=project)
    _show_folder(made, as_json)
    return 0


async def _show(client: Scopix, folder_id: str, limit: int, offset: int, as_json: bool) -> int:
    contents = await client.folders.get(folder_id, limit=limit, offset=offset)
    if as_json:
        typer.echo(render.dumps(contents))
    else:
        stdout().print(render.folder_view(contents, offset))
    return 0


async def _rename(client: Scopix, folder_id: str, name: str, as_json: bool) -> int:
    _show_folder(await client.folders.rename(folder_id, name), as_json)
    return 0


async def _move(client: Scopix, folder_id: str, parent: str | None, as_json: bool) -> int:
    _show_folder(await client.folders.move(folder_id, parent_id=parent), as_json)
    return 0


async def _delete(
    client: Scopix, folder_id: str, recursive: bool, delete_files: bool, as_json: bool
) -> int:
    await client.folders.delete(folder_id, recursive=recursive, delete_files=delete_files)
    if as_json:
        typer.echo(render.dumps({"deleted": folder_id}))
    else:
        stdout().print(f"deleted folder {folder_id}", highlight=False)
    return 0


async def _move_files(
    client: Scopix, file_ids: list[str], folder: str | None, project: str | None, as_json: bool
) -> int:
    moved = await client.folders.move_files(file_ids, folder_id=folder, project_id=project)
    if as_json:
        typer.echo(render.dumps(moved))
    else:
        stdout().print(render.moved_summary(moved))
    return 1 if moved.skipped else 0


def _show_folder(folder: Folder, as_json: bool) -> None:
    if as_json:
        typer.echo(render.dumps(folder))
    else:
        stdout().print(render.folder_panel(folder))
