"""Helpers shared by the tests: fixtures' bodies, sample builders, throwaway database servers."""
