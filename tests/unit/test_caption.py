"""The description sentence: names only what was found, hedges middling scores, quotes text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.media.base import DescribeInputs
from scopix.server.vision.base import Analysis, DecodedImage, DocumentContext, Tag
from scopix.server.vision.caption import (
    CONFIDENT,
    NOTHING_FOUND,
    PROBABLE,
    QUOTE_MAX_CHARS,
    WEB_PAGE,
    Finding,
    compose,
    compose_document,
    document_tags,
    is_document,
    text_tags,
    with_article,
)
from scopix.server.vision.merge import merge
from scopix.server.vision.pipeline import document_context
from scopix.server.vision.remote.openai_compat import document_prompt

INVOICE = "INVOICE No. 1042\nTotal due: 318.40 EUR\nPayable within 30 days"

# Distinct words, none inside another, none inside the fixed wording of a sentence.
POOL = ["zebra", "violin", "teapot", "kimono", "umbrella", "hourglass", "ostrich", "yurt"]
finding = st.builds(
    Finding,
    label=st.sampled_from(POOL),
    score=st.floats(min_value=0, max_value=1),
    kind=st.none() | st.sampled_from(POOL),
)
# OCR text from an alphabet that cannot spell any pool word.
ocr_text = st.text(alphabet="0123456789 XQJ.,:\n\t\"'", max_size=300)


@pytest.mark.parametrize(
    ("findings", "text", "expected"),
    [
        ([Finding("tabby", 0.8, "cat"), Finding("cat", 0.95)], "", "A tabby."),
        (
            [Finding("cat", 0.91), Finding("tiger cat", 0.39, "cat"), Finding("tabby", 0.2, "cat")],
            "",
            "A cat, probably a tiger cat.",
        ),
        ([Finding("coffee", 0.97), Finding("espresso", 0.96, "coffee")], "", "An espresso."),
        (
            [Finding("espresso", 0.9, "coffee"), Finding("coffee mug", 0.7, "cup")],
            "",
            "An image showing an espresso and a coffee mug.",
        ),
        (
            [Finding("missile", 0.37), Finding("projectile", 0.23)],
            "",
            "An image that probably shows a missile.",
        ),
        (
            [Finding("missile", 0.45), Finding("space shuttle", 0.31)],
            "",
            "An image that probably shows a missile and a space shuttle.",
        ),
        (
            [Finding("dog", 0.8), Finding("sofa", 0.4)],
            "",
            "An image showing a dog and probably a sofa.",
        ),
        (
            [Finding("cat", 0.9), Finding("tiger cat", 0.4, "cat"), Finding("dog", 0.7)],
            "",
            "An image showing a cat, probably a tiger cat, and a dog.",
        ),
        ([Finding("football helmet", 0.19)], "", NOTHING_FOUND),
        ([], "", NOTHING_FOUND),
        ([], "STOP", 'An image with the text "STOP".'),
        ([Finding("street sign", 0.8)], "STOP", 'A street sign, with the text "STOP".'),
        (
            [],
            INVOICE,
            'A document with text that begins: "INVOICE No. 1042 Total due: 318.40 EUR Payable '
            'within 30 days".',
        ),
        (
            [Finding("menu", 0.25), Finding("envelope", 0.7)],
            INVOICE,
            'A document with text that begins: "INVOICE No. 1042 Total due: 318.40 EUR Payable '
            'within 30 days". It also shows an envelope.',
        ),
    ],
)
def test_sentences(findings: list[Finding], text: str, expected: str) -> None:
    assert compose(findings, text).description == expected


def test_key_elements_are_the_named_things() -> None:
    caption = compose([Finding("cat", 0.91), Finding("tiger cat", 0.39, "cat")])
    assert caption.key_elements == ("cat", "tiger cat")
    assert compose([], INVOICE).key_elements == ("document",)
    assert compose([Finding("dog", 0.9)], "WOOF").key_elements == ("dog", "text")
    assert compose([]).key_elements == ()


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("cat", "a cat"),
        ("espresso", "an espresso"),
        ("Egyptian cat", "an Egyptian cat"),
        ("hourglass", "an hourglass"),
        ("unicycle", "a unicycle"),
        ("European fire salamander", "a European fire salamander"),
        ("umbrella", "an umbrella"),
        ("coffee", "coffee"),
        ("hay", "hay"),
        ("sunglasses", "a pair of sunglasses"),
        ("Model T", "a Model T"),
    ],
)
def test_articles(label: str, expected: str) -> None:
    assert with_article(label) == expected


def test_long_text_is_cut_at_a_word_boundary() -> None:
    words = " ".join(f"word{i}" for i in range(60))
    description = compose([], words).description
    quoted = description.split('"')[1]
    assert len(quoted) <= QUOTE_MAX_CHARS
    assert quoted.endswith("…")
    assert quoted[:-1] in words and words.startswith(quoted[:-1])
    assert not quoted[:-1].endswith(" ")


def test_inner_quotes_do_not_break_the_quotation() -> None:
    assert compose([], 'say "hi"').description == "An image with the text \"say 'hi'\"."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("ok", ()),
        ("A1 .", ()),
        ("STOP", (Tag("text"),)),
        ("EXIT 24", (Tag("text"),)),
        (INVOICE, (Tag("text"), Tag("document"))),
        ("one two three four five six seven eight nine ten", (Tag("text"),)),  # one row: a sign
    ],
)
def test_text_tags(text: str, expected: tuple[Tag, ...]) -> None:
    assert text_tags(text) == expected


def test_a_document_needs_rows_and_words() -> None:
    assert is_document(INVOICE)
    assert not is_document("A\nB\nC")  # three rows, three words
    assert not is_document("\n\n".join(["many words on a single long line of a shop sign"]))


@given(findings=st.lists(finding, max_size=8), text=ocr_text)
def test_never_names_a_label_it_was_not_given(findings: list[Finding], text: str) -> None:
    description = compose(findings, text).description.lower()
    sure_enough = {f.label for f in findings if f.score >= PROBABLE}
    for word in POOL:
        if word not in sure_enough:
            assert word not in description


@given(findings=st.lists(finding, max_size=8), text=ocr_text)
def test_always_a_nonempty_sentence_ending_with_a_period(
    findings: list[Finding], text: str
) -> None:
    description = compose(findings, text).description
    assert description.strip() == description
    assert description.endswith(".")
    assert description[0].isupper()
    assert len(description) <= 400


@given(
    findings=st.lists(
        st.builds(
            Finding,
            label=st.text(min_size=0, max_size=20),
            score=st.floats(min_value=-1, max_value=2, allow_nan=False),
            kind=st.none() | st.text(max_size=10),
        ),
        max_size=6,
    ),
    text=st.text(max_size=200),
)
def test_any_input_gives_a_sentence(findings: list[Finding], text: str) -> None:
    description = compose(findings, text).description
    assert description and description.endswith(".")


@given(score=st.floats(min_value=PROBABLE, max_value=CONFIDENT, exclude_max=True))
def test_middling_scores_are_hedged(score: float) -> None:
    assert "probably" in compose([Finding("zebra", score)]).description


@given(score=st.floats(min_value=CONFIDENT, max_value=1))
def test_confident_scores_are_stated(score: float) -> None:
    assert compose([Finding("zebra", score)]).description == "A zebra."


# -- a saved web page -------------------------------------------------------------------------

STORY = (
    "Otters return to the Elbe\nFor the first time in fifty years, otters raise young here. More."
)


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        (
            "Riverside Journal",
            '"Otters return to the Elbe", a web page on Riverside Journal. '
            'It begins: "For the first time in fifty years, otters raise young here."',
        ),
        (
            None,
            '"Otters return to the Elbe", a web page. '
            'It begins: "For the first time in fifty years, otters raise young here."',
        ),
    ],
)
def test_a_web_page_says_its_title_site_and_opening(site: str | None, expected: str) -> None:
    page = DocumentContext(
        STORY, title="Otters return to the Elbe", document_type=WEB_PAGE, site=site
    )
    caption = compose_document([Finding("zebra", 0.9)], page, STORY)
    assert caption.description == expected
    assert caption.key_elements[0] == "web page"


def test_a_web_page_without_a_title_or_text_is_still_a_sentence() -> None:
    page = DocumentContext(None, document_type=WEB_PAGE, site="news.example")
    assert compose_document([], page, "").description == "A web page on news.example."


def test_a_web_page_s_site_is_its_name_else_its_domain() -> None:
    image = DecodedImage(np.zeros((4, 4, 3), dtype=np.uint8), jpeg=b"")
    facts = {"document_type": WEB_PAGE, "site_name": "Riverside", "domain": "www.river.example"}
    named = document_context(DescribeInputs(image, text=STORY, title="Otters", facts=facts))
    assert named is not None and (named.site, named.document_type) == ("Riverside", "html")
    facts = {"document_type": WEB_PAGE, "site_name": None, "domain": "www.river.example"}
    bare = document_context(DescribeInputs(image, text=STORY, facts=facts))
    assert bare is not None and bare.site == "www.river.example"


def test_a_web_page_is_tagged_link_and_web_page_first() -> None:
    assert document_tags(WEB_PAGE) == ("link", "web page")
    page = DocumentContext(STORY, title="Otters", document_type=WEB_PAGE, site="Riverside")
    found = Analysis(provider="test", description="An otter.", tags=(Tag("otter", 0.9),))
    assert merge([found], page).tags[:3] == ("link", "web page", "otter")
    assert "a web page titled" in document_prompt(page)


@pytest.mark.parametrize(
    ("findings", "text", "people", "confidence", "expected"),
    [
        ([], "80", 1, 1.0, 'A person, with the text "80".'),
        (
            [Finding("tripod", 0.5)],
            "c000",
            1,
            0.75,
            'A person and probably a tripod, with the text "c000".',
        ),
        ([], "", 3, 0.9, "Three people."),
        ([Finding("dog", 0.9)], "", 2, 1.0, "Two people and a dog."),
        ([], "", 5, 1.0, "Five people."),
        ([], "", 6, 1.0, "A group of people."),
        ([], "", 1, 0.45, "Probably a person."),
        ([], "", 1, PROBABLE - 0.01, NOTHING_FOUND),
    ],
)
def test_people_are_said_first_and_hedged(
    findings: list[Finding], text: str, people: int, confidence: float, expected: str
) -> None:
    caption = compose(findings, text, people, confidence)
    assert caption.description == expected
    if expected != NOTHING_FOUND:
        assert caption.key_elements[0] == ("person" if people == 1 else "people")


@given(st.lists(finding, max_size=6), ocr_text)
def test_people_are_never_named_unless_counted(findings: list[Finding], text: str) -> None:
    description = compose(findings, text, 0).description.lower()
    assert "person" not in description
    assert "people" not in description
