"""The relevance stage: calibrated P(relevant) per (question, paper), citation bar, refusal."""
