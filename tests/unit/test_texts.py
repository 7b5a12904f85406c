"""The catalogues: every language has every text, with the same placeholders."""

import pytest

from workers.services.texts import CATALOGUES, DEFAULT_LANGUAGE, language, placeholders, text


@pytest.mark.parametrize("lang", sorted(set(CATALOGUES) - {DEFAULT_LANGUAGE}))
def test_every_catalogue_has_every_key_with_the_same_placeholders(lang: str) -> None:
    reference, catalogue = CATALOGUES[DEFAULT_LANGUAGE], CATALOGUES[lang]
    assert sorted(set(reference) - set(catalogue)) == [], f"missing in {lang}"
    assert sorted(set(catalogue) - set(reference)) == [], f"only in {lang}"
    for key, template in reference.items():
        assert placeholders(catalogue[key]) == placeholders(template), f"{lang} {key}"


def test_an_unknown_language_falls_back_to_the_default() -> None:
    assert language("fr") == DEFAULT_LANGUAGE
    assert text("fr", "stats.none") == text(DEFAULT_LANGUAGE, "stats.none")


def test_the_original_bots_voice_in_spanish() -> None:
    assert text("es", "ping.pong", worker="w", delay_ms="3").startswith("Por lo pronto vas bien")
    assert text("es", "next.item", item="X") == "El siguiente evento es X"
    assert text("es", "search.none", query="x").startswith("Lo siento: no hay ningún evento con")
    assert text("es", "help.unknown", word="x").startswith("No te entiendo")
