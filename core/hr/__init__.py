"""HR grants and deductions (发放 / 扣除), single and from a CSV file."""
