"""申诉: appeals of deductions and rejected awards or applications."""
