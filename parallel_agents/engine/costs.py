"""Cost of an attempt from its token usage and the price table in config (USD per million)."""
from __future__ import annotations


class PriceTable:
    def __init__(self, prices: dict[str, dict]):
        self.prices = prices
        self.unpriced: set[str] = set()

    def cost(self, model: str | None, input_tokens: int, output_tokens: int) -> float:
        price = self.prices.get(model or "")
        if price is None:
            if model:
                self.unpriced.add(model)
            return 0.0
        return round((input_tokens * price["input"] + output_tokens * price["output"]) / 1e6, 8)
