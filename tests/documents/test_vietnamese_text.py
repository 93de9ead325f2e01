"""Generated Vietnamese names and addresses come back from the PDF exactly, in our font only."""

from __future__ import annotations

import io
import re
import unicodedata

import jinja2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from onestop.documents.forms import Applicant
from onestop.documents.render import render_html

ONSETS = [
    "", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng", "ngh",
    "nh", "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x",
]  # fmt: skip
NUCLEI = [
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "ia", "iê", "oa", "oă", "oe",
    "uâ", "uê", "uy", "uô", "ươ", "ưa", "yê",
]  # fmt: skip
CODAS = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t", "i", "o", "u", "y"]
# No mark, grave, acute, hook above, tilde, dot below: the six tones.
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]


@st.composite
def syllables(draw: st.DrawFn) -> str:
    nucleus = draw(st.sampled_from(NUCLEI))
    # The tone mark sits on the last vowel of the nucleus, which is where it always goes when
    # there is a final consonant; the exact orthographic rule does not matter for round-tripping.
    toned = nucleus[:-1] + unicodedata.normalize("NFC", nucleus[-1] + draw(st.sampled_from(TONES)))
    return draw(st.sampled_from(ONSETS)) + toned + draw(st.sampled_from(CODAS))


def capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


names = st.lists(syllables().map(capitalised), min_size=2, max_size=5).map(" ".join)
streets = st.lists(syllables().map(capitalised), min_size=1, max_size=3).map(" ".join)
addresses = st.builds(
    lambda n, lane, street, ward: f"Số {n}, ngõ {lane}, đường {street}, phường {ward}",
    st.integers(1, 999),
    st.integers(1, 99),
    streets,
    streets,
)
PEOPLE_PER_PDF = 50


def text_of(pdf: bytes) -> str:
    """The text of the PDF as pypdf reads it from the content streams, white space collapsed.

    pypdf rather than pdftotext: pdftotext guesses word gaps from glyph positions and drops the
    space between two single capital letters ("A A" reads "AA"), which the PDF does contain.
    """
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages)).strip()


PAGE = jinja2.Environment(autoescape=True).from_string(
    '<!DOCTYPE html><html lang="vi"><body>'
    "{% for p in people %}<p><b>{{ p.name }}</b></p><p>{{ p.address }}</p>{% endfor %}"
    "</body></html>"
)


def test_the_strategy_covers_every_tone_on_every_vowel() -> None:
    letters = {unicodedata.normalize("NFC", v + t) for n in NUCLEI for v in n[-1] for t in TONES}
    assert len(letters) == 12 * 6


@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    people=st.lists(
        st.tuples(names, addresses, st.booleans()),
        min_size=PEOPLE_PER_PDF,
        max_size=PEOPLE_PER_PDF,
    )
)
def test_500_generated_names_and_addresses_round_trip(people: list[tuple[str, str, bool]]) -> None:
    applicants = []
    for name, address, decomposed in people:
        form = unicodedata.normalize("NFD", name) if decomposed else name
        # The record checks every character against the font's cmap: nothing is missing.
        applicants.append(
            Applicant(name=form, address=address, id_number=None, phone=None, email=None)
        )
    assert all(
        a.name == unicodedata.normalize("NFC", n)
        for a, (n, _, _) in zip(applicants, people, strict=True)
    )

    pdf = render_html(PAGE.render(people=applicants))
    text = text_of(pdf)
    expected = " ".join(f"{a.name} {a.address}" for a in applicants)
    assert text == expected
    fonts = {
        str(f.get_object()["/BaseFont"]).split("+", 1)[-1]
        for page in PdfReader(io.BytesIO(pdf)).pages
        for f in page["/Resources"]["/Font"].values()
    }
    assert fonts <= {"Onestop-Serif", "Onestop-Serif-Bold"}


def test_known_hard_names_round_trip() -> None:
    people = [
        Applicant(name=n, address=a, id_number=None, phone=None, email=None)
        for n, a in [
            ("Nguyễn Thị Ánh Tuyết", "Số 12, ngõ 34, phường Hạc Thành"),
            ("Đặng Hữu Phước", "Thôn Yên Trường, xã Thiệu Hóa"),
            ("Trương Ngọc Ẩn", "Khu phố Quảng Hưng, phường Quảng Phú"),
            ("Lưu Thị Ỷ Lan", "Số 5, đường Lê Hoàn, phường Điện Biên"),
            ("Huỳnh Ngữ Yến", "Bản Khó, xã Trung Lý, huyện Mường Lát cũ"),
        ]
    ]
    pdf = render_html(PAGE.render(people=people))
    assert text_of(pdf) == " ".join(f"{p.name} {p.address}" for p in people)
