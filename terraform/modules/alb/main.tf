# Internal ALB in front of the Dagster webserver. HTTPS only (HTTP answers with a redirect),
# OIDC authentication (always) on the rule that forwards to the webserver, invalid headers
# dropped, access logs to the environment's log bucket. Two target groups (blue and green) and a
# production listener rule whose weights ECS shifts during the webserver's blue/green deployments.

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150:Deletion protection is per environment (var.deletion_protection): true in prod, false in dev so it can be torn down.
  name                       = var.name
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = [var.security_group_id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = var.idle_timeout_seconds
  enable_http2               = true

  access_logs {
    bucket  = var.access_log_bucket
    prefix  = var.access_log_prefix
    enabled = true
  }
}

resource "aws_lb_target_group" "webserver" {
  #checkov:skip=CKV_AWS_378:TLS ends at the internal ALB; the hop to dagster-webserver (plain HTTP) stays in private subnets, open only to the ALB security group.
  for_each = toset(["blue", "green"])

  name                 = "${var.name}-${each.key}"
  port                 = var.webserver_port
  protocol             = "HTTP"
  protocol_version     = "HTTP1"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay_seconds

  health_check {
    enabled             = true
    path                = var.health_check_path
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  # Anything the webserver rule does not match.
  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Not found"
      status_code  = "404"
    }
  }
}

# Every request to the UI is authenticated first: the rule has no path to the webserver that
# skips the identity provider (the listener's default action answers 404).
resource "aws_lb_listener_rule" "webserver" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 100

  action {
    type  = "authenticate-oidc"
    order = 1

    authenticate_oidc {
      issuer                     = var.oidc.issuer
      authorization_endpoint     = var.oidc.authorization_endpoint
      token_endpoint             = var.oidc.token_endpoint
      user_info_endpoint         = var.oidc.user_info_endpoint
      client_id                  = var.oidc.client_id
      client_secret              = var.oidc_client_secret
      scope                      = var.oidc.scope
      session_timeout            = var.oidc.session_timeout
      on_unauthenticated_request = "authenticate"
    }
  }

  action {
    type  = "forward"
    order = 2

    forward {
      target_group {
        arn    = aws_lb_target_group.webserver["blue"].arn
        weight = 100
      }

      target_group {
        arn    = aws_lb_target_group.webserver["green"].arn
        weight = 0
      }
    }
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  # ECS owns the forward weights once the service exists (every blue/green deployment moves the
  # traffic from one target group to the other), so only those are ignored: action[1] is the
  # forward action (the provider lists actions by order, authentication first). A change to the
  # OIDC settings is planned and applied like any other.
  lifecycle {
    ignore_changes = [action[1].forward]
  }
}

resource "aws_route53_record" "dagster" {
  count = var.dns_zone_id == null ? 0 : 1

  zone_id = var.dns_zone_id
  name    = var.hostname
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }

  lifecycle {
    precondition {
      condition     = var.hostname != null
      error_message = "dns_zone_id needs hostname: the alias record is created for that name."
    }
  }
}
