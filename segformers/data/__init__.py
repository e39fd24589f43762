"""segformers.data"""
