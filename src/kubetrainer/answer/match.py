"""Which findings a question is about: the objects it names, the evidence retrieval found, and what it asks.

Three signals, each general: (1) retrieval's hits that hold a finding's evidence or are
about its object, each weighted by its rank and by how close it is to the question;
(2) words of the object's name in the question ("the feature extractor" ->
feature-extractor-7d9f-x2), or a name written out whole ("is gpu-a100-5 faulty?" -> the
findings on that node or whose lines name it); (3) how close the question is, in the embedding space, to
the finding's cause, meaning and evidence, or to a hit holding its evidence. A question
that none of them ties to a finding gets no finding: the answer then says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kubetrainer.answer.sources import normalized
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import SEVERITY_ORDER
from kubetrainer.rag.retriever import Hit

_TOKEN = re.compile(r"[a-z][a-z0-9]*")
# A name written out whole (`gpu-a100-5`, `cpu-0`, `ebs-csi-node-h69mt`): name words alone lose what tells
# `gpu-a100-5` from `gpu-a100-mig-0`, the parts with digits. One with a digit counts even when no finding is about
# it (a healthy node a preemption names); one without must be a finding's object ("fine-tune" is a word).
_WHOLE_NAME = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)+")
HIT_WEIGHT, NAME_WEIGHT, MEANING_WEIGHT = 2.0, 1.0, 1.0
# Below this cosine similarity a question and a finding share only generic words. MiniLM puts unrelated
# sentence pairs under 0.15 and paraphrases above 0.4.
RELATED_SIMILARITY = 0.2
CLOSE_TO_BEST = 0.75  # findings scoring this close to the best are stated too
NAMESPACE_SHARE = 0.5  # a question naming the namespace points at its objects half as much as naming the object
NAMED_IN_LINES_SHARE = 0.5  # a name written out that a finding's lines name (a preemption's node) points at it half
ADDRESSED_SHARE = 0.5  # naming the app a proxy's failing line addresses points at that finding half as much
SHARED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
NAMED = 0.5  # a question saying this share of an object's name words names it
STEM_CHARS = 5  # a name word this long also matches a longer form of it in the question (replica -> replicas)


@dataclass(frozen=True)
class Match:
    finding: Finding
    score: float
    hits: float
    name: float
    similarity: float
    written_out: float = 0.0  # the question writes out its object's, node's or lines' name (`_written_out`)
    described: float = 0.0  # the similarity of the finding's own description to the question: breaks ties

    @property
    def relevant(self) -> bool:
        return (
            self.name >= NAMED
            or (self.hits > 0 and self.similarity >= RELATED_SIMILARITY)
            or self.similarity >= 2 * RELATED_SIMILARITY
        )


def name_tokens(name: str) -> set[str]:
    """Words of an object name, without generated suffixes and numbers (`checkout-api-7d9f8-x2lqp` -> checkout, api);
    a product's name keeps its digits (`gpu-h100-6` -> gpu, h100: "the H100 nodes")."""
    return {
        token
        for token in re.split(r"[-_.]", name.lower())
        if len(token) >= 3 and token.isalnum() and not token.isdigit() and not _looks_generated(token)
    }


def question_words(question: str) -> set[str]:
    """The words of a question as name words are compared with them (lower-case, letters and digits)."""
    return set(_TOKEN.findall(question.lower()))


def whole_names(question: str) -> set[str]:
    """Names written out whole in a question (`gpu-a100-5`, `cpu-0`, `cert-manager`)."""
    return set(_WHOLE_NAME.findall(question.lower()))


def name_said(name: str, words: set[str]) -> float:
    """The share of an object name's words (`name_tokens`) that `words` say, each possibly in a longer form."""
    return _said(name_tokens(name), words, Counter())


# The characters Kubernetes draws generated name suffixes from (apimachinery's rand.String): no vowels, no 0, 1 or 3.
_GENERATED_ALPHABET = frozenset("bcdfghjklmnpqrstvwxz2456789")


def _looks_generated(token: str) -> bool:
    """A pod-template hash or pod suffix (`7d9f8c6b5d`, `x2lqp`): five or more characters of Kubernetes' alphabet."""
    return len(token) >= 5 and set(token) <= _GENERATED_ALPHABET


def _written_out(names: set[str], finding: Finding) -> float:
    """1 when the question writes out the finding's object or node by its whole name ("is gpu-a100-5 faulty?"),
    NAMED_IN_LINES_SHARE when its lines are about or name such an object, else 0."""
    if not names:
        return 0.0
    if finding.name in names or finding.node in names:
        return 1.0
    for item in finding.lines:
        if item.name in names or item.node in names or any(name in item.text for name in names):
            return NAMED_IN_LINES_SHARE
    return 0.0


def _name_score(question_tokens: set[str], finding: Finding, spread: Counter[str], names: set[str]) -> float:
    """How much of the object's name the question says (a word may be said in a longer form: "distillation" for
    nmt-distill), plus half as much for its namespace ("the run in translation"; shared namespaces do not count);
    an object or node written out whole counts fully (`_written_out`).

    A name word counts less the more objects share it (`spread`: word -> how many distinct names hold it): "gpu"
    in a dozen node names says little about which one a question means, "copilot" in one says a lot.
    """
    own = max(_said(name_tokens(finding.name), question_tokens, spread), _written_out(names, finding))
    addressed = max((_said(name_tokens(where.rpartition("/")[2]), question_tokens, spread)
                     for where in finding.addressed), default=0.0)
    own = max(own, ADDRESSED_SHARE * addressed)
    namespace = finding.namespace or ""
    if namespace in SHARED_NAMESPACES:
        return own
    return min(1.0, own + NAMESPACE_SHARE * _said(name_tokens(namespace), question_tokens, Counter()))


def _said(tokens: set[str], question_tokens: set[str], spread: Counter[str]) -> float:
    """The weighted share of name words `tokens` said in the question. A product's name (`h100`) counts only for a
    question that names some product ("the H100 nodes"): one asking about "the NVIDIA nodes" names none, and
    says all of `gpu-h100-0`'s name it means."""
    if not any(char.isdigit() for word in question_tokens for char in word):
        tokens = {token for token in tokens if token.isalpha()}
    weights = {token: 1.0 / max(spread[token], 1) for token in tokens}
    total = sum(weights.values())
    if not total:
        return 0.0
    said = sum(weight for token, weight in weights.items() if any(same_word(token, word) for word in question_tokens))
    return said / total


def same_word(token: str, word: str) -> bool:
    shorter, longer = sorted((token, word), key=len)
    return token == word or (len(shorter) >= STEM_CHARS and longer.startswith(shorter))


def _holding(hits: Sequence[Hit], finding: Finding) -> list[int]:
    """Positions of the hits that hold one of the finding's lines or are about its object (or one its evidence
    addresses by IP)."""
    evidence = [normalized(item.text) for item in finding.lines]
    objects = {f"{finding.namespace}/{finding.name}", *finding.addressed}
    held = []
    for position, hit in enumerate(hits):
        text = normalized(hit.text)
        about = f"{hit.source.get('namespace')}/{hit.source.get('name')}" in objects
        if about or any(line and line in text for line in evidence):
            held.append(position)
    return held


@dataclass(frozen=True)
class _Named:
    """What a question says of object names: its words, the names it writes out whole that mean something here, and
    how many distinct finding objects share each name word."""

    tokens: set[str]
    names: set[str]
    spread: Counter[str]
    # hyphenated names the question writes out that are part of some finding's object or namespace name
    # ("report-writer" of report-writer-vllm-c69swgwg2j-xh9dx): their words name only objects whose names hold them
    # together, not report-ui-kg2q9vngdg-gcq2x by its "report"
    compounds: frozenset[str] = frozenset()

    @classmethod
    def of(cls, question: str, findings: Sequence[Finding]) -> _Named:
        known = {name for finding in findings for name in (finding.name, finding.node) if name}
        known |= {name for finding in findings for item in finding.lines for name in (item.name, item.node) if name}
        written = whole_names(question)
        names = {name for name in written if name in known or any(map(str.isdigit, name))}
        compounds = frozenset(name for name in written - names if "-" in name
                              and any(_holds(finding, name) for finding in findings))
        # The pods of one workload share its name's words: each set of words counts once.
        spread = Counter(token for words in {frozenset(name_tokens(finding.name)) for finding in findings}
                         for token in words)
        return cls(question_words(question), names, spread, compounds)

    def score(self, finding: Finding) -> float:
        """`_name_score`, and a compound its object's name holds says that name fully."""
        if any(_holds(finding, name, own=True) for name in self.compounds):
            return 1.0
        elsewhere = {word for name in self.compounds if not _holds(finding, name) for word in name_tokens(name)}
        return _name_score(self.tokens - elsewhere, finding, self.spread, self.names)


def _holds(finding: Finding, compound: str, own: bool = False) -> bool:
    """Whether the finding's object name (or, unless `own`, its namespace or node name) holds `compound` between name
    boundaries."""
    names = (finding.name,) if own else (finding.name, finding.namespace, finding.node)
    return any(f"-{compound}-" in f"-{name}-" for name in names if name)


def names_an_object(question: str, findings: Sequence[Finding]) -> bool:
    """Whether the question names some finding's object (at least half its name, or written out whole), as a
    follow-up ("what is different about the new revision?") does not."""
    named = _Named.of(question, findings)
    return any(named.score(finding) >= NAMED for finding in findings)


def rank_findings(question: str, hits: Sequence[Hit], findings: Sequence[Finding],
                  embed: Callable[[list[str]], np.ndarray] | None = None) -> list[Match]:
    """Findings by how well they answer `question`, best first."""
    if not findings:
        return []
    named = _Named.of(question, findings)
    described = np.zeros(len(findings))
    closeness = np.ones(len(hits))
    if embed is not None:
        vectors = embed([question, *(hit.text for hit in hits), *(finding.description for finding in findings)])
        closeness = np.clip(vectors[1:len(hits) + 1] @ vectors[0], 0.0, 1.0)
        described = vectors[len(hits) + 1:] @ vectors[0]
    matches = []
    for finding, own in zip(findings, described):
        held = _holding(hits, finding)
        hit = sum(float(closeness[position]) / (position + 1) for position in held)
        similarity = max([float(own), *(float(closeness[position]) for position in held)])
        name = named.score(finding)
        score = HIT_WEIGHT * hit + NAME_WEIGHT * name + MEANING_WEIGHT * similarity
        matches.append(Match(finding, score, hit, name, similarity, _written_out(named.names, finding), float(own)))
    # A name written out whole says which object the question is about: its findings come before any other. Two
    # findings of one pod held by the same chunks score alike; the one whose own description is closer to the
    # question comes first (not the one whose rule's name sorts first).
    return sorted(matches, key=lambda match: (-match.written_out, -match.score, -match.described,
                                              match.finding.sort_key()))


def chosen(matches: Sequence[Match]) -> list[Finding]:
    """The relevant findings close to the best one (the best first), at most three; the best one's object's more
    severe findings before all of them.

    Retrieval may favour a symptom's lines (a node's hung-task events) over the object's worst problem (that node
    NotReady), whose status line is one record among thousands: a question about an object leads with its gravest
    finding."""
    relevant = [match for match in matches if match.relevant]
    if not relevant:
        return []
    best = relevant[0]
    close = [match.finding for match in relevant if match.score >= CLOSE_TO_BEST * best.score]
    graver = sorted((match.finding for match in relevant if _same_object(match.finding, best.finding)
                     and SEVERITY_ORDER[match.finding.severity] < SEVERITY_ORDER[best.finding.severity]),
                    key=lambda finding: SEVERITY_ORDER[finding.severity])
    picked = {finding.id: finding for finding in [*graver, *close]}  # dicts keep order; the first of an id stays
    return list(picked.values())[:3]


def _same_object(one: Finding, other: Finding) -> bool:
    return (one.kind, one.namespace, one.name) == (other.kind, other.namespace, other.name)
