"""What every tab builds on: the document base, workers, tab pages, bars, the model guard, the disk
watch.
"""
