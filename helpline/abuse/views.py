"""The supervisors' page of blocked visitors, where a block can be lifted before its time."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from helpline.abuse import service
from helpline.abuse.schemas import LiftSchema

bp = Blueprint("abuse", __name__)


@bp.get("/inbox/blocks")
@login_required
def blocks():
    running = service.active_blocks(current_user._get_current_object())
    return render_template("abuse/blocks.html", blocks=running)


@bp.post("/inbox/blocks/<int:block_id>/lift")
@login_required
def lift(block_id: int):
    try:
        chosen = LiftSchema().load({"block_id": block_id})
    except ValidationError:
        abort(404)
    service.lift(chosen["block_id"], current_user._get_current_object())
    flash("The block is lifted.")
    return redirect(url_for("abuse.blocks"))
