"""Label exchange formats: QuPath GeoJSON (import/export, streamed), COCO instances, point CSV, label masks.

Pure functions over plain records (no ORM); `annotation.services.exchange` feeds them from the database.
"""
