#!/bin/sh
# The compose stack's Kafka: format the KRaft storage once, with the SCRAM users of the administrator
# and of each partnership service (their passwords from the environment), then run the broker.
set -eu
: "${KAFKA_ADMIN_PASSWORD:?}" "${CLUSTER_ID:?}"
CONFIG=/etc/kafka/isp/server.properties
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  set -- --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]"
  for service in referrals register notifications audit gateway; do
    variable="ISP_$(echo "$service" | tr a-z A-Z)_KAFKA_PASSWORD"
    password=$(printenv "$variable") || { echo "kafka: $variable is not set" >&2; exit 1; }
    set -- "$@" --add-scram "SCRAM-SHA-512=[name=isp-${service},password=${password}]"
  done
  /opt/kafka/bin/kafka-storage.sh format --config "$CONFIG" --cluster-id "$CLUSTER_ID" "$@"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$CONFIG"
