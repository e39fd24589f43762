"""segformers.evaluation"""
