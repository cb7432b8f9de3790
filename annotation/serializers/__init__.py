"""Input and output serializers of the annotation REST API."""
