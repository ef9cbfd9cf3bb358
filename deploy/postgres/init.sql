-- One database per service: no service reads another's tables.
CREATE DATABASE isp_referrals;
CREATE DATABASE isp_register;
CREATE DATABASE isp_notifications;
CREATE DATABASE isp_audit;
