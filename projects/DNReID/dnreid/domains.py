"""The day/night vocabulary, once: the batch key DNReID's datasets set and its models read.

A label is also the name of its folder and list files in the DN layout, and the word a user
writes in the tools' list files and ``--domain`` option.
"""
from vreid.projects import BatchKey

DOMAIN = BatchKey("domains", labels=("day", "night"), option="domain")
DOMAINS = DOMAIN.labels
DAY, NIGHT = range(len(DOMAINS))  # the labels' values
