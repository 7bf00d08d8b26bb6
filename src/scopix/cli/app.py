"""The ``scopix`` Typer app: client commands (``cli`` extra) and server commands
(``server`` extra, imported only when they run)."""

from __future__ import annotations

import typer

from scopix.cli import (
    client_commands,
    extract_commands,
    folder_commands,
    mcp_command,
    server_commands,
)

app = typer.Typer(
    help="Scopix: self-hostable visual intelligence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Manage API keys (on the server's machine).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
folders_app = typer.Typer(
    help="Organize files in folders: list, create, show, rename, move and delete folders, and "
    "move files between them.",
    no_args_is_help=True,
)
app.add_typer(folders_app, name="folders")
schemas_app = typer.Typer(
    help="Manage custom extraction schemas: list, create, show and delete them.",
    no_args_is_help=True,
)
app.add_typer(schemas_app, name="schemas")

app.command()(server_commands.serve)
app.command()(server_commands.worker)
app.command()(server_commands.doctor)
app.command()(server_commands.purge)
keys_app.command("create")(server_commands.keys_create)
keys_app.command("list")(server_commands.keys_list)
keys_app.command("revoke")(server_commands.keys_revoke)

app.command()(client_commands.upload)
app.command()(client_commands.link)
app.command()(client_commands.ls)
app.command()(client_commands.get)
app.command()(client_commands.search)
app.command()(client_commands.similar)
app.command()(client_commands.text)
app.command()(client_commands.scenes)
app.command()(client_commands.quota)
app.command()(client_commands.describe)
app.command()(client_commands.recrawl)
app.command()(mcp_command.mcp)
app.command()(extract_commands.extract)
folders_app.command("list")(folder_commands.list_folders)
folders_app.command("create")(folder_commands.create)
folders_app.command("show")(folder_commands.show)
folders_app.command("rename")(folder_commands.rename)
folders_app.command("move")(folder_commands.move)
folders_app.command("delete")(folder_commands.delete)
folders_app.command("move-files")(folder_commands.move_files)
schemas_app.command("list")(extract_commands.list_schemas)
schemas_app.command("create")(extract_commands.create)
schemas_app.command("show")(extract_commands.show)
schemas_app.command("delete")(extract_commands.delete)
