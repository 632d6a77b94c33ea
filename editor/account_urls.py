"""Sign-up, the account page, and Django's own login, logout and password views."""

from django.contrib.auth import views as auth_views
from django.urls import path

from editor import account_views, views
from editor.api import account as api_account


def page(heading: str, button: str = "", message: str = "") -> dict[str, str]:
    return {"heading": heading, "button": button, "message": message}


urlpatterns = [
    path("", account_views.account, name="account"),
    path("email/", account_views.account_email, name="account-email"),
    path("delete/", account_views.account_delete, name="account-delete"),
    path("signup/", account_views.signup, name="signup"),
    path("signup/invite/<str:token>/", account_views.signup, name="signup-invite"),
    path("confirm-email/<str:token>/", account_views.confirm_email, name="confirm-email"),
    path("tokens/", api_account.tokens_page, name="api-tokens"),
    path("tokens/<int:token_id>/revoke/", api_account.token_revoke, name="api-token-revoke"),
    path("time-zone/", views.time_zone, name="time_zone"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            extra_context={**page("Log in", "Log in"), "show_signup": True}
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password_change/",
        auth_views.PasswordChangeView.as_view(
            extra_context=page("Change your password", "Change password")
        ),
        name="password_change",
    ),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            extra_context=page("Password changed", message="Your password was changed.")
        ),
        name="password_change_done",
    ),
    # Throttled per address and per client (see the view).
    path("password_reset/", views.password_reset, name="password_reset"),
    path(
        "password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(
            extra_context=page(
                "Check your email",
                message="If an account uses that address, a reset link is on its way.",
            )
        ),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            extra_context=page("Choose a new password", "Set password")
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            extra_context=page("Password set", message="You can log in with your new password.")
        ),
        name="password_reset_complete",
    ),
]
