"""Every file of the shared corpus of real Keras files, through the CLI.

expected.tsv holds, per corpus.tsv row, what keras2torch must do with it:
  converted   exit status 0
  incomplete  exit status 1, with exactly these skeleton layers (they need code)
  refused     exit status 2, with exactly this first error (after "FILE: ")
A change in any outcome fails here: update expected.tsv deliberately, with the reason in
the commit, and regenerate docs/corpus.md (see corpus_run.py). Whether converted files
reproduce Keras is checked by test_corpus_outputs.py (Keras 1 files:
tests/e2e/test_keras1.py).
"""

from __future__ import annotations

import csv
from pathlib import Path

import corpus_run
import pytest

EXPECTED_TSV = Path(__file__).with_name("expected.tsv")


def expected() -> dict[str, tuple[str, str]]:
    with EXPECTED_TSV.open(newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["file"]: (row["outcome"], row["detail"] or "") for row in rows}


def corpus_entries() -> list[corpus_run.Entry]:
    if not (corpus_run.CORPUS / "corpus.tsv").is_file():
        pytest.fail(f"the Keras file corpus is missing: {corpus_run.CORPUS}/corpus.tsv "
                    "(set K2T_CORPUS)", pytrace=False)
    return corpus_run.entries()


@pytest.fixture(scope="module")
def cli():
    return corpus_run.find_cli()


def test_every_corpus_row_has_an_expected_outcome():
    names = [e.name for e in corpus_entries()]
    table = expected()
    assert sorted(names) == sorted(table), (
        f"corpus.tsv and expected.tsv disagree: only in the corpus "
        f"{sorted(set(names) - set(table))}, only expected {sorted(set(table) - set(names))}"
    )


@pytest.mark.parametrize("name", sorted(expected()))
def test_corpus_file(cli, tmp_path, name):
    (entry,) = [e for e in corpus_entries() if e.name == name]
    for path in (entry.model, entry.weights):
        assert path is None or path.is_file(), f"{path} is in corpus.tsv but not on disk"
    outcome = corpus_run.run(cli, entry, tmp_path / "out")
    kind, detail = expected()[name]
    assert (outcome.kind, outcome.detail) == (kind, detail), (
        f"{name}: expected {kind} [{detail}], got {outcome.kind} [{outcome.detail}]"
    )


def test_docs_corpus_md_is_current(cli):
    corpus_entries()
    current = corpus_run.tally_markdown(corpus_run.run_all(cli))
    assert corpus_run.DOC.read_text() == current, (
        f"{corpus_run.DOC} is out of date: regenerate it with "
        "`K2T_CLI=build/tools/keras2torch .venv/bin/python tests/corpus/corpus_run.py`"
    )
