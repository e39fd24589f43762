"""segformers.visualization"""
