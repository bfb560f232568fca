"""The fuzzer: mutated files of every format through inspect and the loaders (python -m
tests.fuzz.run).
"""
