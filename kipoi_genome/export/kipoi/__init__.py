"""Kipoi integration: the model and dataloader classes Kipoi specs name, and the spec writer.

Kipoi itself is imported only by `adapter` and `dataloaders` (both apply `compat` first).
"""
