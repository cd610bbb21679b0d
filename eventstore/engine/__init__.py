"""The event store on a search engine cluster: OpenSearch, or Elasticsearch.

``spec`` names an engine from a URL, ``client`` talks to it, ``indices`` owns how events are
laid out in it, ``store`` reads and writes events, ``deadletter`` keeps what it refused.
"""
