"""Log patterns: online template mining (:class:`TemplateMiner`) and per-app pattern statistics."""

from log_pipeline.patterns._miner import MinerConfig, TemplateMiner
from log_pipeline.patterns._tokens import WILDCARD, tokenise

__all__ = ["WILDCARD", "MinerConfig", "TemplateMiner", "tokenise"]
