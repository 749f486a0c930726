"""Levelling Up Assistant: cited answers from the Levelling Up White Paper and related texts."""
