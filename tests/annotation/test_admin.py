import pytest
from django.test import Client

from tests.annotation.conftest import new_item


@pytest.mark.django_db
def test_admin_lists_annotation_domain_for_superusers(world):
    from annotation.serializers.annotations import parse_bulk_request
    from annotation.services.annotations import annotation_bulk_apply

    annotation_bulk_apply(actor=world.ann1, items=parse_bulk_request({"items": [new_item(world)]})[0])
    world.admin.is_superuser = True
    world.admin.save()
    client = Client()
    client.force_login(world.admin)
    for model in ("project", "task", "assignment", "annotation", "annotationevent", "auditevent", "slidepair"):
        response = client.get(f"/django-admin/annotation/{model}/")
        assert response.status_code == 200, model
    client.force_login(world.ann1)
    assert client.get("/django-admin/annotation/annotation/").status_code == 302
