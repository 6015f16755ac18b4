"""Automatic grants (规则引擎): birthday, anniversary, new hire and recurring rules."""
