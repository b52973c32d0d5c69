"""Tests of the orchestrator package `tune`."""
