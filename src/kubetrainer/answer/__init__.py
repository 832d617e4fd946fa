"""Answers an on-call engineer can act on: findings decide, the model only phrases, a guard checks it."""

from kubetrainer.answer.engine import Answer, AnswerEngine

__all__ = ["Answer", "AnswerEngine"]
