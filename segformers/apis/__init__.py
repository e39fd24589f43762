"""segformers.apis"""
