"""segformers.checkpoint"""
