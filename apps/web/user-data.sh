#!/bin/bash
# Instance bootstrap (cloud-init user data) for the web tier on Amazon Linux 2023. The program
# puts the settings of this stack right below this comment, as shell assignments.
# @settings@
set -euo pipefail

# Python 3.12 because psycopg 3.3 needs 3.10 or later and AL2023's system Python is 3.9.
dnf install -y python3.12

install -d -m 0755 /opt/web
aws s3 cp --region "$REGION" "s3://$ARTIFACT_BUCKET/$ARTIFACT_KEY" /tmp/web.tar.gz
tar -xzf /tmp/web.tar.gz -C /opt/web
rm -f /tmp/web.tar.gz
python3.12 -m venv /opt/web/venv
/opt/web/venv/bin/pip install --no-cache-dir --quiet --requirement /opt/web/requirements.txt

# The CA bundle for RDS, so the app can verify the database's certificate (sslmode=verify-full).
curl --fail --silent --show-error --location --retry 5 --output /opt/web/rds-ca.pem "$RDS_CA_BUNDLE_URL"

id web >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin web
umask 077
cat >/etc/web.env <<ENV
PORT=$APP_PORT
AWS_REGION=$REGION
DB_HOST=$DB_HOST
DB_PORT=$DB_PORT
DB_NAME=$DB_NAME
DB_SECRET_ARN=$DB_SECRET_ARN
DB_SSLMODE=verify-full
DB_SSLROOTCERT=/opt/web/rds-ca.pem
ENV
chown root:web /etc/web.env
chmod 0640 /etc/web.env

install -m 0644 /opt/web/web.service /etc/systemd/system/web.service
systemctl daemon-reload
systemctl enable --now web.service
