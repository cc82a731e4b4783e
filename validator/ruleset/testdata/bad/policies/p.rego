package sandkasse.bad

# METADATA
# title: No fix hint
# custom:
#   id: BAD-01
#   severity: error
#   requirement: REQ-A
#   source: sandkasse
deny_a contains {"msg": "a"} if input.resource

# METADATA
# title: Unknown requirement
# custom:
#   id: BAD-02
#   severity: error
#   requirement: REQ-NOPE
#   source: sandkasse
#   fix: {nb: x, en: y}
deny_b contains {"msg": "b"} if input.resource
