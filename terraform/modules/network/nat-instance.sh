#!/bin/bash
# NAT instance of the lean profile (AWS's documented NAT AMI recipe on Amazon Linux 2023):
# forward and masquerade what the VPC sends; the security groups admit HTTPS only.
set -euo pipefail
dnf install -y iptables-services
systemctl enable --now iptables
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
sysctl --system
interface=$(ip route show default | awk '{print $5; exit}')
iptables -t nat -A POSTROUTING -o "$interface" -j MASQUERADE
iptables -F FORWARD
service iptables save
