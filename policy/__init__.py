"""The Well-Architected policy pack (`pulumi preview --policy-pack policy`) and its rules."""
