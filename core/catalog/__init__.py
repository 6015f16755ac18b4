"""The catalog (积分商城): items, code pools, YAML / CSV import and availability."""
