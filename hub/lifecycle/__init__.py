"""The closed loop 受理 → 交办 → 督办 → 答复 → 评价 for cases (工单)."""
