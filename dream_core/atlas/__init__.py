"""The atlas: what every layer and filter of a model has learned (issue 16).

TEMPORARY (H3, branch atlas-chat): minimal torch-free stand-ins for the modules H1/H2 write;
the merge of main replaces every file of this package.
"""
