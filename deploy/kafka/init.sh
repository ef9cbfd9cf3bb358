#!/bin/sh
# Once the broker answers: create the topics and grant exactly the ACLs generated from the directory
# (deploy/kafka/acls.sh, made by `python -m isp_common.acls`; a test keeps it current). Organisation
# principals are added by an operator: kafka-configs.sh --alter --entity-type users --entity-name ORG
# --add-config 'SCRAM-SHA-512=[password=...]' (docs/operations.md).
set -eu
: "${KAFKA_ADMIN_PASSWORD:?}"
ADMIN_CONFIG=/tmp/admin.properties
cat > "$ADMIN_CONFIG" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/tls/ca.pem
PROPERTIES
BOOTSTRAP=kafka:9092
export BOOTSTRAP ADMIN_CONFIG PATH="/opt/kafka/bin:$PATH"
until kafka-broker-api-versions.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" >/dev/null 2>&1; do
  sleep 2
done
for topic in isp.treatment.v1 isp.socialcare.v1 isp.referrals.v1 isp.consent.v1 isp.register.v1 isp.audit.v1 \
    isp.directory.v1 isp.deadletter.v1; do
  kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --create --if-not-exists \
    --topic "$topic" --partitions 6 --replication-factor 1
done
kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --create --if-not-exists \
  --topic isp.audit.checkpoints.v1 --partitions 1 --replication-factor 1
sh /etc/kafka/isp/acls.sh
echo "kafka-init: topics and ACLs in place"
