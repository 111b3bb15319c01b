"""bench/rules.py: the verdict logic, and a run on a quoting fake model over three articles."""

from __future__ import annotations

import json

import pytest
from bench_scripts import bench_module, write_jsonl
from fakes import QuotingChatModel


@pytest.fixture(scope="module")
def rules():
    return bench_module("rules")


def f(right: int, n: int = 10, cited: float | None = 1.0) -> dict:
    return {"n": n, "accuracy": right / n, "all_citations_gold": cited}


def halves(tuning: dict, check: dict) -> dict:
    return {"tuning": tuning, "check": check}


def test_better_means_more_right_then_cleaner_citations(rules):
    assert rules.versus(f(6), f(5)) == 1 and rules.versus(f(5), f(6)) == -1
    assert rules.versus(f(5, cited=0.9), f(5, cited=0.8)) == 1
    assert rules.versus(f(5, cited=None), f(5, cited=0.8)) == 0
    assert rules.versus(f(5), f(5)) == 0


def test_a_rule_that_helps_on_tuning_and_holds_on_check_is_kept(rules):
    v = rules.verdict({"now": halves(f(7), f(6)), "off": halves(f(5), f(6))})
    assert v["verdict"] == "keep" and v["replace_with"] is None and v["rival"] == "off"
    assert v["now_vs_tuning"] == {"off": 1} and v["now_vs_rival_check"] == 0


def test_a_neutral_rule_is_kept_unless_the_check_half_says_it_hurts(rules):
    neutral = rules.verdict({"now": halves(f(5), f(6)), "off": halves(f(5), f(6))})
    assert neutral["verdict"] == "keep" and "neutral" in neutral["why"]
    hurts = rules.verdict({"now": halves(f(5), f(6)), "off": halves(f(5), f(7))})
    assert hurts["verdict"] == "drop" and hurts["replace_with"] == "off"


def test_the_check_half_cannot_save_a_rule_the_tuning_half_rejects(rules):
    v = rules.verdict({"now": halves(f(5), f(9)), "off": halves(f(6), f(2))})
    assert v["verdict"] == "drop" and v["replace_with"] == "off"


def test_the_rival_is_the_best_other_arm_on_tuning(rules):
    arms = {
        "now": halves(f(7), f(6)),
        "off": halves(f(4), f(9)),  # better on check, but far worse on tuning
        "0.3": halves(f(7), f(5)),  # tied on tuning: the rival, and worse on check
    }
    v = rules.verdict(arms)
    assert v["rival"] == "0.3" and v["verdict"] == "keep"
    arms["0.3"] = halves(f(7), f(8))
    assert rules.verdict(arms)["verdict"] == "drop"


def test_every_rule_has_a_now_arm_and_an_alternative(rules):
    from rag.config import Settings

    for rule in rules.RULES:
        assert next(iter(rule.arms)) == "now" and rule.arms["now"] == {}
        assert len(rule.arms) >= 2
        for overrides in rule.arms.values():
            Settings().with_overrides(**overrides)  # every override is a real setting


def _small_dev_set(tmp_path):
    """Three articles and four questions (one unanswerable), two per half."""
    articles = [
        ("bridge", "City opens new bridge", "2024-05-02",
         "The Elm Street bridge opened to traffic on Tuesday after two years of work. "
         "It cost $48 million. The mayor cut the ribbon."),
        ("bakery", "Bakery wins prize", "2024-05-03",
         "A family bakery won the national bread prize for its rye loaf. "
         "The owners said the recipe is a century old."),
        ("match", "Local team wins final", "2024-05-04",
         "The Rovers beat the Wanderers 3-1 in the cup final on Saturday. "
         "Their striker scored twice in the second half."),
    ]  # fmt: skip
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        ({"doc_id": d, "title": t, "published": p, "text": x} for d, t, p, x in articles),
    )
    gold = [
        ("cost", "How much did the Elm Street bridge cost?", ["$48 million"], ["bridge"], "05-10"),
        ("final", "Who did the Rovers beat in the cup final?", ["Wanderers"], ["match"], "05-11"),
        ("prize", "Which prize did the family bakery win?", ["bread prize"], ["bakery"], "05-20"),
        ("ferry", "Who cut the ribbon for the Zorbia ferry line?", [], [], "05-21"),
    ]
    questions = write_jsonl(
        tmp_path / "questions.jsonl",
        ({"id": i, "question": q, "answers": a, "evidence_doc_ids": e,
          "answerable": bool(a), "question_date": f"2024-{d}"}
         for i, q, a, e, d in gold),
    )  # fmt: skip
    return corpus, questions


def test_bench_on_a_fake_model_writes_figures_and_ids_only(rules, tmp_path, embedder, capsys):
    corpus, questions = _small_dev_set(tmp_path)
    llm = QuotingChatModel(phrases=["$48 million", "the Wanderers", "bread prize", "the ribbon"])
    out = tmp_path / "results"
    rules.main(
        ["--questions", str(questions), "--corpus", str(corpus), "--out-dir", str(out),
         "--rules", "subject_check,max_sentences", "--store", str(tmp_path / "store")],
        llm=llm,
        embedder=embedder,
    )  # fmt: skip
    data = json.loads((out / "rules.json").read_text())
    assert data["benchmark"] == "rules" and data["commit"] and data["command"]
    assert data["machine"]["cpu_model"] is not None and data["config"]["settings"]["gate"]
    results = data["results"]
    assert results["halves"]["tuning"] == 2 and results["halves"]["check"] == 2
    assert set(results["rules"]) == {"subject_check", "max_sentences"}
    subject = results["rules"]["subject_check"]
    assert set(subject["arms"]) == {"now", "off"}
    for arm in subject["arms"].values():
        for half in ("tuning", "check"):
            figures = arm["halves"][half]
            assert figures["n"] == 2 and set(figures) >= {
                "contains_gold", "normalized_match", "false_abstention",
                "abstention_unanswerable", "all_citations_gold", "right",
            }  # fmt: skip
    now, off = subject["arms"]["now"]["halves"], subject["arms"]["off"]["halves"]
    # The ferry question names a line no article mentions: refused now, answered without.
    assert now["check"]["abstention_unanswerable"] == 1.0
    assert off["check"]["abstention_unanswerable"] == 0.0
    assert subject["arms"]["off"]["changed"]["check"] == {
        "ferry": ["correct_abstention", "answered_unanswerable"]
    }
    assert subject["verdict"] == "keep" and subject["now_vs_rival_check"] == 1
    assert results["rules"]["max_sentences"]["arms"]["now"] == subject["arms"]["now"] | {
        "settings": {}
    }
    # The questions are asked once per distinct setting: max_sentences reuses now's run.
    printed = capsys.readouterr().out
    assert "subject_check now:" in printed and "max_sentences now:" not in printed
    assert "max_sentences" in printed.split("wrote")[0].splitlines()[-3]  # the table
    text = (out / "rules.json").read_text()
    for line in questions.read_text().splitlines():
        assert json.loads(line)["question"] not in text
    assert "Elm Street" not in text and "Zorbia" not in text

    # The store given is filled once and kept: a second run asks at once (here one question
    # of each half).
    assert results["ingest"]["chunks"] >= 3
    again = rules.main(
        ["--questions", str(questions), "--out-dir", str(out), "--rules", "subject_check",
         "--store", str(tmp_path / "store"), "--limit", "1", "--corpus", str(tmp_path / "none")],
        llm=llm,
        embedder=embedder,
    )  # fmt: skip
    assert again["ingest"] is None and again["partial"] is True
    assert again["rules"]["subject_check"]["arms"]["now"]["halves"]["check"]["n"] == 1


def test_withheld_gold_makes_every_question_one_to_refuse(rules, tmp_path, embedder):
    corpus, questions = _small_dev_set(tmp_path)
    llm = QuotingChatModel(phrases=["$48 million", "the Wanderers", "bread prize", "the ribbon"])
    out = tmp_path / "results"
    rules.main(
        ["--questions", str(questions), "--corpus", str(corpus), "--out-dir", str(out),
         "--rules", "subject_link", "--withhold-gold", "--name", "withheld",
         "--store", str(tmp_path / "store")],
        llm=llm,
        embedder=embedder,
    )  # fmt: skip
    data = json.loads((out / "withheld.json").read_text())
    assert data["config"]["withhold_gold"] and data["results"]["withhold_gold"]
    link = data["results"]["rules"]["subject_link"]
    assert set(link["arms"]) == {"now", "on"}  # off by default: the alternative is on
    # Only the answerable questions are asked (the ferry one is left out): 2 + 1.
    for arm in link["arms"].values():
        for half, n in (("tuning", 2), ("check", 1)):
            figures = arm["halves"][half]
            assert figures["n"] == figures["n_unanswerable"] == n
            assert figures["contains_gold"] is None and figures["right"] <= n
