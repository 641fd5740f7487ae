"""Benchmarks: offline, loopback only; each prints its figures and writes JSON and markdown under results/."""
