#!/bin/bash
# Instance bootstrap (cloud-init user data) for the web tier on Amazon Linux 2023. The program
# puts the settings of this stack right below this comment, as shell assignments.
# @settings@
set -euo pipefail

# Everything installed here comes from the distribution's repositories or the stack's artifact
# bucket, both on S3 in this region and reached through the VPC's S3 gateway endpoint: booting
# needs no internet route. Python 3.12 because psycopg 3.3 needs 3.10 or later and AL2023's
# system Python is 3.9.
dnf install -y python3.12

install -d -m 0755 /opt/web
aws s3 cp --region "$REGION" "s3://$ARTIFACT_BUCKET/$ARTIFACT_KEY" /tmp/web.tar
tar -xf /tmp/web.tar -C /opt/web
rm -f /tmp/web.tar
python3.12 -m venv /opt/web/venv
# The artifact carries the wheels for this platform; the lock pins each one by its hash.
/opt/web/venv/bin/pip install --no-index --find-links /opt/web/wheels --require-hashes \
  --no-cache-dir --quiet --requirement /opt/web/requirements.lock

id web >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin web
umask 077
cat >/etc/web.env <<ENV
PORT=$APP_PORT
AWS_REGION=$REGION
DB_INSTANCE_ID=$DB_INSTANCE_ID
DB_PORT=$DB_PORT
DB_NAME=$DB_NAME
DB_USER=$DB_USER
DB_SSLMODE=verify-full
DB_SSLROOTCERT=/var/lib/web/rds-ca.pem
RDS_CA_BUNDLE_URL=$RDS_CA_BUNDLE_URL
WRITE_AUTH=$WRITE_AUTH
JWT_ISSUER=$JWT_ISSUER
JWT_AUDIENCES=$JWT_AUDIENCES
JWT_JWKS_URI=$JWT_JWKS_URI
READINESS_NAMESPACE=$READINESS_NAMESPACE
WEB_TIER=$WEB_TIER
ENV
chown root:web /etc/web.env
chmod 0640 /etc/web.env

install -m 0644 /opt/web/web.service /opt/web/web-ready.service /opt/web/web-ready.timer /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now web.service web-ready.timer
