"""segformers.engine"""
