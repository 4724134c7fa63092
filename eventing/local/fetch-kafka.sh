#!/usr/bin/env bash
# Fetches Apache Kafka's broker and tools jars (with their runtime dependencies) from Maven Central
# into $CACHE/kafka-$KAFKA_VERSION/libs, once. The broker is then started with plain `java -cp`.
set -euo pipefail
: "${CACHE:?CACHE must be set}"
: "${KAFKA_VERSION:?KAFKA_VERSION must be set}"
dest="$CACHE/kafka-$KAFKA_VERSION"
if [[ -f "$dest/.complete" ]]; then
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fraud-detector</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
mkdir -p "$dest"
mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$dest/libs.tmp"
rm -rf "$dest/libs"
mv "$dest/libs.tmp" "$dest/libs"
touch "$dest/.complete"
echo "kafka $KAFKA_VERSION: $(ls "$dest/libs" | wc -l) jars in $dest/libs"
