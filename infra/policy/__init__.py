"""The segmentation policy pack (``pulumi preview --policy-pack infra/policy``)."""
