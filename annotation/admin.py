"""Django admin for operators: read-mostly views of the annotation domain (writes go through the API services)."""

from __future__ import annotations

from django.contrib import admin

from annotation.models import (
    Annotation,
    AnnotationEvent,
    Assignment,
    AuditEvent,
    Job,
    LabelClass,
    Membership,
    Project,
    Registration,
    Slide,
    SlidePair,
    Task,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "redundancy_k", "blind_mode", "created_at")
    search_fields = ("name",)
    inlines = [MembershipInline, LabelClassInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "pair", "name", "kind", "label_mode", "status", "priority")
    list_filter = ("status", "kind", "label_mode")
    raw_id_fields = ("project", "pair")
    filter_horizontal = ("classes",)


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "task", "annotator", "status", "time_spent_s", "assigned_at", "submitted_at")
    list_filter = ("status",)
    raw_id_fields = ("task", "annotator")


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "pair", "geom_type", "label_class", "source", "status", "version", "is_deleted", "updated_at")
    list_filter = ("source", "status", "is_deleted", "geom_type")
    raw_id_fields = ("project", "pair", "task", "label_class", "author")
    readonly_fields = ("version", "created_at", "updated_at")
    show_full_result_count = False  # counting millions of rows on every page is slow


@admin.register(AnnotationEvent)
class AnnotationEventAdmin(admin.ModelAdmin):
    list_display = ("id", "annotation", "action", "actor", "version", "at")
    list_filter = ("action",)
    raw_id_fields = ("annotation", "actor")
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # history is append-only


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "actor", "action", "target", "at")
    list_filter = ("action",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "project", "progress", "created_at", "finished_at")
    list_filter = ("kind", "status")


@admin.register(Slide)
class SlideAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "name", "kind", "width", "height", "mpp_x", "status")
    list_filter = ("kind", "status")


@admin.register(SlidePair)
class SlidePairAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "name", "anatomical", "molecular", "current_registration")
    raw_id_fields = ("anatomical", "molecular", "current_registration")


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ("id", "pair", "version", "source", "status", "created_at")
    list_filter = ("source", "status")
