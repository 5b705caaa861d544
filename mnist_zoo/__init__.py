"""The MNIST zoo: a DVC pipeline that trains, compares and ships image classifiers.

Its rooms follow the data: data/, models/, training/, evaluation/, shipping/, reporting/,
experiments/, tools/; config, params, schema, files, figures and runtime sit beneath them
(docs/extending.md, "The house").
"""
