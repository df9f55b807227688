"""Preference data on Argilla: dataset templates, logging candidates, pulling human answers.

One job per module: `templates` (value objects -> rg.Settings), `layout` (rows -> records:
ids, shuffling, suggestions), `client` (connecting, clear errors), `push` (logging), `pull`
(responses per annotator), `aggregate` (answers -> PreferenceRow), `agreement` (Krippendorff's
alpha), `roles` (workspaces and annotators).
"""
