"""A description sentence composed from what the on-device models found (pure).

The sentence only ever names what a model reported: the labels it is given (confident ones plainly,
middling ones hedged with "probably"), the people a detector counted and the OCR text, quoted.
It never guesses relations ("a cup *on* a table"), settings or a medium ("a *photo* of"), which
the models cannot see.
A document's sentence names what the document says of itself: its title, type, page count and
how its text begins; a saved web page's names its title, its site and how its text begins. A
video's description says what each scene shows, in order, with its times.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from scopix.server.vision.base import DocumentContext, Tag

__all__ = [
    "CONFIDENT",
    "DOCUMENT_MIN_ROWS",
    "DOCUMENT_MIN_WORDS",
    "NOTHING_FOUND",
    "OPENING_MAX_CHARS",
    "PEOPLE_IN_WORDS",
    "PROBABLE",
    "QUOTE_MAX_CHARS",
    "SCENE_MAX_CHARS",
    "TEXT_MIN_CHARS",
    "TITLE_MAX_CHARS",
    "VIDEO_MAX_CHARS",
    "WEB_PAGE",
    "Caption",
    "Finding",
    "SceneCaption",
    "clock",
    "compose",
    "compose_document",
    "compose_video",
    "cut_at_word",
    "document_noun",
    "document_tags",
    "is_document",
    "opening",
    "people_phrase",
    "people_tag",
    "text_tags",
    "with_article",
]

#: A label at least this sure is stated plainly ("A cat.").
CONFIDENT: Final = 0.6
#: A label at least this sure, but not confident, is hedged ("probably a missile"); below, unsaid.
PROBABLE: Final = 0.3
#: At most this many things are named, so the sentence stays a sentence.
MAX_MENTIONS: Final = 2
#: Text quoted in the description is cut to about this many characters, at a word boundary.
QUOTE_MAX_CHARS: Final = 80
#: Letters and digits the OCR must find before the image is tagged "text": a sign's "STOP" or
#: "EXIT" counts, a stray "ok" or "A1" (often the engine reading a texture) does not.
TEXT_MIN_CHARS: Final = 4
#: A page of text, a receipt, a letter or a slide: several rows and a couple of sentences' worth
#: of words. Signs and captions on photos have fewer rows.
DOCUMENT_MIN_ROWS: Final = 3
DOCUMENT_MIN_WORDS: Final = 10

#: A document's caption quotes its first sentence, or as many words as fit in this many characters.
OPENING_MAX_CHARS: Final = 200
#: A document's title is cut to this many characters at a word: PDF metadata titles are sometimes
#: a file path or a whole abstract.
TITLE_MAX_CHARS: Final = 100
#: A sentence end this close to the start ("Dr.", "No. 5", "1.") is an abbreviation or a list
#: number far more often than a first sentence worth stopping at.
_SENTENCE_MIN_CHARS: Final = 20
_SENTENCE_END: Final = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_ELLIPSIS: Final = "…"

NOTHING_FOUND: Final = "An image with no objects or text recognised."

#: People are counted in words up to this many ("five people"); more are "a group of people":
#: a face detector's count of a crowd is not worth stating exactly.
PEOPLE_IN_WORDS: Final = 5
_NUMBERS: Final = {2: "two", 3: "three", 4: "four", 5: "five"}

#: A scene is told in its description's first sentence when the whole is longer than this (a
#: VLM writes up to three), or in as many whole words as fit.
SCENE_MAX_CHARS: Final = 160
#: A video's description stops naming scenes past this many characters (30 described scenes of
#: an on-device caption each fit), and says how many it left out.
VIDEO_MAX_CHARS: Final = 4000
_NOTHING_IN_SCENE: Final = "nothing recognised."

#: The document type of a saved web page's text (a link's).
WEB_PAGE: Final = "html"
# What each document type is called in a sentence, and the search tags it gets.
_DOCUMENT_TYPES: Final = {
    "pdf": ("PDF document", ("document", "pdf")),
    "docx": ("Word document", ("document", "docx")),
    "md": ("Markdown document", ("document", "markdown")),
    "txt": ("plain-text document", ("document", "plain text")),
    WEB_PAGE: ("web page", ("link", "web page")),
}
_ANY_DOCUMENT: Final = ("document", ("document",))

# Labels that take no article (mass nouns, plurals) or come in pairs; ImageNet has a handful.
_NO_ARTICLE: Final = frozenset(
    {
        "brass",
        "carbonara",
        "chain mail",
        "chocolate sauce",
        "coffee",
        "consomme",
        "dough",
        "eggnog",
        "fruit",
        "guacamole",
        "hay",
        "ice cream",
        "mashed potato",
        "parallel bars",
        "red wine",
        "toilet tissue",
        "trifle",
    }
)
_PAIRS: Final = frozenset({"binoculars", "sunglasses", "swimming trunks"})
# Vowel letters that sound like a consonant ("a unicycle") and silent h's ("an hourglass").
_A_BEFORE: Final = ("eu", "ewe", "one", "once", "uni", "use", "usu", "uk", "ur")
_AN_BEFORE: Final = ("heir", "honest", "honor", "honour", "hour")


@dataclass(frozen=True)
class Finding:
    """Something a tagger reported: a label, how sure it is, and the broader word it is a kind of.

    A specific class carries its broader word in `kind` ("tabby" is a kind of "cat"); the broader
    word itself is a finding with no kind, scored with the summed probability of its classes.
    """

    label: str
    score: float
    kind: str | None = None


@dataclass(frozen=True)
class Caption:
    """The description sentence and the things it names, most important first."""

    description: str
    key_elements: tuple[str, ...]


@dataclass(frozen=True)
class SceneCaption:
    """One scene of a video as its description tells it: 0-based `index`, its times in seconds,
    and the description of its keyframe."""

    index: int
    start_seconds: float
    end_seconds: float
    description: str


@dataclass(frozen=True)
class _Mention:
    """One named thing: its label, whether it is stated plainly, and a hedged refinement."""

    label: str
    sure: bool
    refinement: str | None = None


def compose(
    findings: Sequence[Finding],
    visible_text: str = "",
    people: int = 0,
    people_confidence: float = 1.0,
) -> Caption:
    """Describe an image from its tagger findings, its OCR text (rows separated by newlines) and
    how many `people` a detector saw, with its surest detection's confidence. People are said
    first ("Two people and a tripod."), hedged like a tag when the detection is middling."""
    mentions = _mentions(findings)
    text = " ".join(visible_text.split())
    named = tuple(label for m in mentions for label in (m.label, m.refinement) if label)
    seen = people_phrase(people, people_confidence)
    if seen:
        named = (people_tag(people), *named)
    if is_document(visible_text):
        return Caption(_document_sentence(text, mentions), ("document", *named))
    if seen:
        said = _capitalized(_and([seen, *(_phrase(m) for m in mentions)]))
        sentence = f"{said}, with the text {_quote(text)}." if text else f"{said}."
        return Caption(sentence, (*named, "text") if text else named)
    if text:
        return Caption(_text_sentence(text, mentions), (*named, "text"))
    if mentions:
        return Caption(_capitalized(_objects_clause(mentions)) + ".", named)
    return Caption(NOTHING_FOUND, ())


def people_phrase(count: int, confidence: float = 1.0) -> str:
    """ "a person", "three people", "a group of people" (more than PEOPLE_IN_WORDS), hedged
    "probably ..." below CONFIDENT; "" for none or a detection below PROBABLE."""
    if count <= 0 or confidence < PROBABLE:
        return ""
    if count == 1:
        phrase = "a person"
    elif count <= PEOPLE_IN_WORDS:
        phrase = f"{_NUMBERS[count]} people"
    else:
        phrase = "a group of people"
    return phrase if confidence >= CONFIDENT else f"probably {phrase}"


def people_tag(count: int) -> str:
    """The tag for people seen: "person" for one, "people" for more."""
    return "person" if count == 1 else "people"


def compose_document(findings: Sequence[Finding], document: DocumentContext, text: str) -> Caption:
    """Describe a document from what it says of itself and its `text` (extracted, or else read
    from its first page): '"Quarterly report", a PDF document of 12 pages. It begins: "Revenue
    grew 12 %."', or a web page: '"Otters return", a web page on Riverside Journal. It begins:
    "..."'. The tagger's confident findings are named only when there is no text to quote:
    on a page of text they are what the classes make of the type, not what the page shows."""
    mentions = _mentions(findings)
    title = cut_at_word(" ".join((document.title or "").split()), TITLE_MAX_CHARS)
    what = _document_phrase(document)
    sentence = f"{_plain_quote(title)}, {what}." if title else f"{_capitalized(what)}."
    start = opening(_without_title(" ".join(text.split()), title))
    sure = [m for m in mentions if m.sure]
    if start:
        ended = start.rstrip("\"')]")[-1:] in (".", "!", "?")
        sentence += f" It begins: {_plain_quote(start)}" + ("" if ended else ".")
    elif sure:
        sentence += f" Its first page shows {_and([with_article(m.label) for m in sure])}."
    named = tuple(label for m in mentions for label in (m.label, m.refinement) if label)
    kind = "web page" if document.document_type == WEB_PAGE else "document"
    return Caption(sentence, (kind, *named))


def compose_video(
    scenes: Sequence[SceneCaption], scene_count: int, duration_seconds: float | None
) -> str:
    """Describe a video by its scenes in order: 'A video of 2 scenes, 0:08 long. Scene 1
    (0:00–0:04): A cat. Scene 2 (0:04–0:08): An image with the text "HARBOUR".'. Each scene is
    told briefly (SCENE_MAX_CHARS); past VIDEO_MAX_CHARS the rest are counted, not told."""
    sentences = [_video_sentence(scene_count, len(scenes), duration_seconds)]
    used = len(sentences[0])
    for told, scene in enumerate(scenes):
        sentence = _scene_sentence(scene)
        left = len(scenes) - told
        # Room stays for the closing count should a later scene not fit.
        room = VIDEO_MAX_CHARS - (0 if left == 1 else len(_more_scenes(left - 1)) + 1)
        if used + 1 + len(sentence) > room:
            sentences.append(_more_scenes(left))
            break
        sentences.append(sentence)
        used += 1 + len(sentence)
    return " ".join(sentences)


def clock(seconds: float) -> str:
    """A time as a player shows it, to the nearest second: "0:04", "12:30", "1:02:03"."""
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def document_noun(document_type: str | None) -> str:
    """What a document of this type is called: "PDF document", "Word document", "document"."""
    return _DOCUMENT_TYPES.get(document_type or "", _ANY_DOCUMENT)[0]


def document_tags(document_type: str | None) -> tuple[str, ...]:
    """The search tags every document gets: "document" and its type's ("pdf", "markdown");
    a saved web page's are "link" and "web page"."""
    return _DOCUMENT_TYPES.get(document_type or "", _ANY_DOCUMENT)[1]


def opening(text: str, max_chars: int = OPENING_MAX_CHARS) -> str:
    """How `text` begins (whitespace collapsed): its first sentence when that fits in `max_chars`,
    else as many whole words as fit with a closing "…"; "" for blank text."""
    flat = " ".join(text.split())
    for end in _SENTENCE_END.finditer(flat):
        if end.end() > max_chars:
            break
        if end.end() >= _SENTENCE_MIN_CHARS:
            return flat[: end.end()]
    return cut_at_word(flat, max_chars)


def cut_at_word(text: str, max_chars: int, marker: str = _ELLIPSIS) -> str:
    """`text` if it fits in `max_chars`, else its longest start of whole words that fits with
    `marker` after it. A first word longer than that is cut inside: a 300-character "word" is a
    URL or a hash, not a word to keep whole."""
    if len(marker) >= max_chars:
        raise ValueError("max_chars must leave room for the marker")
    if len(text) <= max_chars:
        return text
    room = max_chars - len(marker)
    # The character just past the room is looked at too: a space there ends a whole word.
    head = text[: room + 1]
    breaks = [i for i, char in enumerate(head) if char.isspace()]
    kept = text[: breaks[-1]].rstrip() if breaks else ""
    return (kept or text[:room]) + marker


def text_tags(visible_text: str) -> tuple[Tag, ...]:
    """The tags "text" (enough letters and digits) and "document" (a page of text) that apply."""
    tags: list[Tag] = []
    if sum(c.isalnum() for c in visible_text) >= TEXT_MIN_CHARS:
        tags.append(Tag("text"))
    if is_document(visible_text):
        tags.append(Tag("document"))
    return tuple(tags)


def is_document(visible_text: str) -> bool:
    """Whether the OCR text (rows separated by newlines) reads as a page rather than a sign."""
    rows = [row for row in visible_text.splitlines() if row.strip()]
    words = [w for w in visible_text.split() if any(c.isalnum() for c in w)]
    return len(rows) >= DOCUMENT_MIN_ROWS and len(words) >= DOCUMENT_MIN_WORDS


def with_article(label: str) -> str:
    """Return "a cat", "an espresso", "an hourglass", "a unicycle", "coffee", "a pair of ..."."""
    lowered = label.lower()
    if lowered in _NO_ARTICLE:
        return label
    if lowered in _PAIRS:
        return f"a pair of {label}"
    vowel = lowered[:1] in set("aeiou")
    if lowered.startswith(_A_BEFORE):
        vowel = False
    elif lowered.startswith(_AN_BEFORE):
        vowel = True
    return f"{'an' if vowel else 'a'} {label}"


def _mentions(findings: Sequence[Finding]) -> list[_Mention]:
    """The at most MAX_MENTIONS things worth naming, one per broader word, best first."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.label.strip() and finding.score >= PROBABLE:
            groups.setdefault(finding.kind or finding.label, []).append(finding)
    ranked = sorted(groups.items(), key=lambda item: -max(f.score for f in item[1]))
    return [_mention(head, members) for head, members in ranked[:MAX_MENTIONS]]


def _mention(head: str, members: list[Finding]) -> _Mention:
    """Name a group: its confident specific label, else its confident broader word, else hedge."""
    specific = max((f for f in members if f.kind is not None), key=_score, default=None)
    broad = next((f for f in members if f.kind is None and f.label == head), None)
    if specific is not None and specific.score >= CONFIDENT:
        return _Mention(specific.label, sure=True)
    if broad is not None and broad.score >= CONFIDENT:
        refinement = specific.label if specific and specific.label != broad.label else None
        return _Mention(broad.label, sure=True, refinement=refinement)
    return _Mention(max(members, key=_score).label, sure=False)


def _score(finding: Finding) -> float:
    return finding.score


def _objects_clause(mentions: Sequence[_Mention]) -> str:
    """ "a cat, probably a tiger cat" / "an image showing a cat and probably a sofa" / ..."""
    if len(mentions) == 1 and mentions[0].sure:
        return _phrase(mentions[0])
    if not any(m.sure for m in mentions):
        things = " and ".join(with_article(m.label) for m in mentions)
        return f"an image that probably shows {things}"
    return "an image showing " + _and([_phrase(m) for m in mentions])


def _phrase(mention: _Mention) -> str:
    """One mention: "a cat", "a cat, probably a tiger cat" or "probably a sofa"."""
    if not mention.sure:
        return f"probably {with_article(mention.label)}"
    if mention.refinement:
        return f"{with_article(mention.label)}, probably {with_article(mention.refinement)}"
    return with_article(mention.label)


def _and(phrases: Sequence[str]) -> str:
    """Join phrases with "and"; "a cat, probably a tiger cat, and a dog" closes the aside."""
    first, *rest = phrases
    if not rest:
        return first
    return first + (", and " if "," in first else " and ") + " and ".join(rest)


def _document_sentence(text: str, mentions: Sequence[_Mention]) -> str:
    """'A document with text that begins: "..."', plus what else is confidently in the picture."""
    sentence = f"A document with text that begins: {_quote(text)}."
    sure = [m for m in mentions if m.sure]
    if sure:
        sentence += f" It also shows {_and([with_article(m.label) for m in sure])}."
    return sentence


def _text_sentence(text: str, mentions: Sequence[_Mention]) -> str:
    """'An image with the text "STOP".' or 'A cat, with the text "HELLO".'"""
    if not mentions:
        return f"An image with the text {_quote(text)}."
    return f"{_capitalized(_objects_clause(mentions))}, with the text {_quote(text)}."


def _quote(text: str) -> str:
    """Quote text, cut to about QUOTE_MAX_CHARS at a word boundary; inner quotes made single."""
    text = text.replace('"', "'")
    if len(text) > QUOTE_MAX_CHARS:
        cut = text[: QUOTE_MAX_CHARS - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space >= QUOTE_MAX_CHARS // 2 else cut).rstrip() + "…"
    return f'"{text}"'


def _video_sentence(scene_count: int, described: int, duration_seconds: float | None) -> str:
    """ "A video of 3 scenes, 0:12 long.", "A video of 45 scenes, 10:00 long; 30 are described." """
    scenes = "1 scene" if scene_count == 1 else f"{scene_count:,} scenes"
    sentence = f"A video of {scenes}"
    if duration_seconds is not None and duration_seconds > 0:
        sentence += f", {clock(duration_seconds)} long"
    if described < scene_count:
        sentence += f"; {described:,} {'is' if described == 1 else 'are'} described"
    return sentence + "."


def _scene_sentence(scene: SceneCaption) -> str:
    """ "Scene 2 (0:04–0:08): A cat." with the scene's description told briefly."""
    told = " ".join(scene.description.split())
    if told == NOTHING_FOUND or not told:
        told = _NOTHING_IN_SCENE
    elif len(told) > SCENE_MAX_CHARS:
        told = opening(told, SCENE_MAX_CHARS)
    if told[-1:] not in (".", "!", "?", "…", '"', "'", ")"):
        told += "."
    times = f"{clock(scene.start_seconds)}–{clock(scene.end_seconds)}"
    return f"Scene {scene.index + 1} ({times}): {told}"


def _more_scenes(count: int) -> str:
    return f"{count:,} more {'scene is' if count == 1 else 'scenes are'} not told here."


def _document_phrase(document: DocumentContext) -> str:
    """ "a PDF document of 12 pages", "a Word document", "a document", "a web page on
    example.com". The count is said only past one page: DOCX, TXT and MD are extracted as one
    page whatever their printed length."""
    noun = with_article(document_noun(document.document_type))
    site = cut_at_word(" ".join((document.site or "").split()), TITLE_MAX_CHARS)
    if document.document_type == WEB_PAGE and site:
        return f"{noun} on {site}"
    pages = document.page_count
    return f"{noun} of {pages:,} pages" if pages is not None and pages > 1 else noun


def _without_title(text: str, title: str) -> str:
    """`text` without the title it begins with (a DOCX or MD title is its first heading), so the
    caption does not say it twice; cut only at the end of a word."""
    head, rest = text[: len(title)], text[len(title) :]
    if title and head.casefold() == title.casefold() and not rest[:1].isalnum():
        return rest.lstrip(" .:-–—")
    return text


def _plain_quote(text: str) -> str:
    """Quote text as it is, its own double quotes made single."""
    return '"' + text.replace('"', "'") + '"'


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]
