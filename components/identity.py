"""Who may call the stack's write routes: the JWT issuer and audience the patterns trust."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class JwtSettings:
    """An OIDC issuer whose tokens the patterns accept (a Cognito user pool or an external IdP).

    `issuer` is the `iss` claim tokens must carry (for Cognito `https://cognito-idp.<region>.
    amazonaws.com/<pool id>`), `audience` the client ids (`aud`/`client_id`) accepted, and
    `jwks_uri` where the issuer publishes its signing keys.
    """

    issuer: pulumi.Input[str]
    audience: list[pulumi.Input[str]]
    jwks_uri: pulumi.Input[str]
