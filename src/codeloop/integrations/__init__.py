"""Adapters with the exact signatures trainers expect: TRL, verl, OpenRLHF."""
